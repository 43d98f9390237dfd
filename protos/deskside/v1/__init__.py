"""deskside.v1: the agent <-> controller wire contract (generated code beside this file)."""

# The name agents verify in the controller's server certificate, whatever address they
# dial; only the controller's own CA issues a certificate carrying it.
SERVER_NAME = "deskside-controller"

# The keys of Inventory.sections: what an agent reports and inventory.collect may ask for.
INVENTORY_SECTIONS: tuple[str, ...] = (
    "os",
    "cpu",
    "memory",
    "disks",
    "network",
    "processes",
    "services",
    "software",
    "users",
)
