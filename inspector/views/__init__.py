"""The Dash pages; each module registers itself (dash.register_page) and owns its callbacks."""
