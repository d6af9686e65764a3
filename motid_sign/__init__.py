"""``idp-sign``: the certificate holder's tool that signs a MotID challenge (see :mod:`motid_sign.command`).

It is not server code: it needs no MotID configuration or database, and the PKCS#11 library it
uses for tokens (python-pkcs11) is the optional dependency group ``sign``.
"""
