"""Visual features: motion, visual beats, scene cuts, colour, stills, semantics."""
