"""Pages that read several apps: the home dashboard, a game's page, a player's page."""
