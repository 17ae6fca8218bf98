import sys

from huinong.cli import main

sys.exit(main())
