"""One module per tab. Each defines a subclass of :class:`screens.tabs.base.CockpitTab`.

The app finds tab modules at start-up and orders them by ``ORDER``; a feature adds its tab by
adding a module here, never by editing the app.
"""
