"""System checks of the engine (ids datp.E0xx / datp.W0xx)."""
