from recsysctl.cli import main

main()
