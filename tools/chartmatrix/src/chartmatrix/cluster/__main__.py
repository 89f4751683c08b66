import sys

from chartmatrix.cluster.cli import main

sys.exit(main())
