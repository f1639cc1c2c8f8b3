from peakops.cli import main

main()
