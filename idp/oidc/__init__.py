"""The OpenID Connect provider: one module per endpoint or grant, named after its specification.

Only this package imports Authlib's server classes; it may import ``idp.accounts``, never the reverse.
"""
