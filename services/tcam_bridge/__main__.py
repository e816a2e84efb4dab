from tcam_bridge.cli import main

main()
