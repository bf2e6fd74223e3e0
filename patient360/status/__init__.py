"""patient360 status: collect what is where, then render it."""
