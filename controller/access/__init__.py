"""Who may do what: roles and permissions, users, teams, sites, tokens, sessions, audit.

Every permission check happens here, through Actor.require() and the site scope that
the listing and lookup functions apply; the REST routers only declare which permission
a route needs.
"""
