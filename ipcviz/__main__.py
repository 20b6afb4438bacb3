from ipcviz.cli import main
import sys
sys.exit(main())
