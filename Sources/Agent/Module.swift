/// Placeholder until the module lands.
enum AgentModule {}
