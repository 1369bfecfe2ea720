"""Everything that produces usage events: the contract, the gateway, the agent, importers and the simulator."""
