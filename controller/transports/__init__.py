"""How the controller reaches endpoints that carry no agent: one seam, three transports.

`agent` endpoints are reached through their own gRPC stream (controller/gateway); `ssh`
(paramiko) and `winrm` (pywinrm) endpoints through a RemoteTransport (base.py) that runs the
same catalogue actions, built from argument lists or PowerShell, read with the same parsers
(catalogue/probes), and answers the same ActionResult.
"""
