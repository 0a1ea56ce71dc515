"""REST API views, by area: projects, labeling, and a project's resources."""
