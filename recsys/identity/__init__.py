"""Who is calling: listeners, services and admins, and the tokens that say so.

- ``principal``: the caller, its scopes and role, and what it may do for whom.
- ``tokens``: the JWTs this app issues (HS256) and the verification of those and of an
  identity provider's (RS256/ES256 against its JWKS, ``jwks``), each failure named.
- ``passwords`` and ``credentials``: listeners' sign-in names and Argon2id password hashes.

The web app (webapp/api/auth.py) turns a request into a principal with these; the operator's
tools (recsysctl token) issue service and admin tokens with them.
"""
