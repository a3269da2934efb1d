"""Helpers shared by the pages. They live below pages/ so that Streamlit, which serves every
pages/*.py as a page before app.py has set up the navigation, never lists them as pages."""
