import sys

from nea_sd.cli import main

sys.exit(main())
