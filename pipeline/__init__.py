"""The edgeline pipeline definition (`create_pipeline`) and the Beam worker plugin it names."""
