"""``python -m motid_sign``: the same as the ``idp-sign`` console script."""
from .command import main

main()
