"""`python -m patient360` = the `patient360` command."""

import sys

from patient360.cli.main import main

sys.exit(main())
