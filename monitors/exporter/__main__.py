import sys

from monitors.exporter.main import main

sys.exit(main())
