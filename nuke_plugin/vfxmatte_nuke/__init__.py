"""VfxMatte for Nuke: the logic, in plain Python over an injected host (see ``host.NukeHost``)."""
