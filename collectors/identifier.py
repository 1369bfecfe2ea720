"""Application identifiers without the person in them: home folders and the user's own name leave paths.

An identifier may be a path (`C:\\Users\\jdoe\\AppData\\...\\Code.exe`, `/Users/jdoe/Applications/...`,
`/home/jdoe/.local/bin/...`): the folder that names its user is replaced with `<user>`, keeping the product
path and the executable, so catalog rules (names on the basename, path globs) still recognise it.
"""

from __future__ import annotations

import re

PLACEHOLDER = "<user>"

# A home folder: the segment after it names the person. Drive letters, `\\?\` prefixes and either slash.
_HOME = re.compile(
    r"""(?ix)
    (?P<root>
        (?:^|(?<=[\\/]))            # at the start or after a separator
        (?:
            [a-z]:[\\/](?:users|documents\ and\ settings)   # Windows
          | users                                           # macOS /Users, or a Windows path without its drive
          | (?:var[\\/])?home                               # Linux /home, /var/home (Fedora Silverblue)
        )
        [\\/]
    )
    (?P<name>[^\\/]+)
    (?=[\\/]|$)
    """
)
# Folders under the home root that are shared, not a person's.
_SHARED = {"public", "default", "default user", "all users", "shared", "<user>"}


def _names(user: str) -> set[str]:
    """The ways a login appears in a path: `DOMAIN\\jdoe` and `jdoe@corp.example` also as `jdoe`."""
    whole = user.strip().casefold()
    local = whole.rsplit("\\", 1)[-1].split("@", 1)[0]
    return {n for n in (whole, local) if n}


def without_user(app: str, user: str) -> str:
    """`app` with its home-folder segment, and any folder named like `user`, replaced with `<user>`."""
    if "/" not in app and "\\" not in app:
        return app  # an executable name or bundle id: no folder to hide

    def home(match: re.Match[str]) -> str:
        name = match["name"]
        return match["root"] + (name if name.casefold() in _SHARED else PLACEHOLDER)

    stripped = _HOME.sub(home, app)
    names = _names(user)
    parts = re.split(r"([\\/])", stripped)
    # Every folder but the last part (the executable keeps its name: it names the product, not the person).
    for i in range(0, len(parts) - 1, 2):
        if parts[i].casefold() in names:
            parts[i] = PLACEHOLDER
    return "".join(parts)
