"""People and how they prove who they are. Never imports ``idp.oidc``."""
