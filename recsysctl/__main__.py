# The import is guarded too: worker processes (spawned by the history importer) import this
# module again, and need none of the command line's modules.
if __name__ == "__main__":
    from recsysctl.cli import main

    main()
