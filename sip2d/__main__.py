from sip2d.cli import main

main()
