"""Design-space exploration: what a model costs across targets, budgets and variants of itself."""
