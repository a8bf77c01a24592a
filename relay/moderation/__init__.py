"""The moderation channel: DMs to the bot in, typed commands, guarded actions, and the replies out."""
