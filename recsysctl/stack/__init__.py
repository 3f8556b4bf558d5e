"""The local stack: every real component of the warehouse on one machine, no Docker.

Services start in dependency order and stop in reverse (``services.services``). Each service
module offers ``start(settings)``, ``stop(settings)`` and ``healthy(settings)``; state lives
under ``settings.state_dir`` and survives ``down``/``up``. Importing this package loads no
service module: import the one you need.
"""
