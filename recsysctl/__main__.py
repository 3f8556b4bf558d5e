from recsysctl.cli import main

# guarded: worker processes (spawned by the history importer) import this module again
if __name__ == "__main__":
    main()
