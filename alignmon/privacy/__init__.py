"""The privacy role's tools: the works-council pack (and the data-subject commands) over the running configuration."""
