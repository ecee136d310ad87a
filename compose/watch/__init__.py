"""develop.watch: what a changed file means (rules, pure), noticing changes (inotify),
copying them into containers (sync), the loop that does it, and the detached watcher.

The command itself is :mod:`compose.commands.watch`.
"""
