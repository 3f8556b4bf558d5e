from bench.ingest import main

main()
