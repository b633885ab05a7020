from btp.cli import main

main()
