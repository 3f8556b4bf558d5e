"""spark-submit entry points. Each job module has pure DataFrame -> DataFrame transforms
(tested on tiny in-code frames) and a thin ``main(argv)`` wiring extract -> transform -> load."""
