"""What an action reports, built once for every transport that runs it.

The agent runs an action locally, the ssh and winrm transports remotely; each gathers the
facts its own way, then hands them here, so the messages, evidence and result shapes an
analyst sees stay the same whichever way the endpoint was reached. Pure code only: these
modules never touch a machine.
"""
