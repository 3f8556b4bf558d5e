"""The operator's tooling: the CLI (``python -m recsysctl``), the local stack manager
(``recsysctl.stack``), ``.env`` handling, the demo world and the traffic simulator.

Nothing in the domain package (``recsys``), the web app, the DAGs or the Spark jobs imports
this package: it sits on top and drives them. Importing it starts nothing and loads no service.
"""
