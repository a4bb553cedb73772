"""Pictures: maze drawing, GIF/MP4 (``mazepolicy.viz.render``) and figures
(``mazepolicy.viz.plots``, imports matplotlib)."""
