from reliant.cli import main

main()
