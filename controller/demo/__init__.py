"""`deskside demo`: a controller, a small fleet of real agents, seeded desk data and
injected faults, for trying deskside out and training new analysts.

fleet.py starts and stops the processes (shared with `make run`), seed.py fills the desk
through the REST API, faults.py breaks things inside the demo's own directories only.
"""
