"""Application identifiers leave the gateway without their user: real path samples from each platform."""

from __future__ import annotations

import pytest

from base.pseudonym import pseudonymise_device
from collectors.event import UsageEvent
from collectors.identifier import without_user
from collectors.policy import PrivacyPolicy
from pipeline.catalog.identity import AppMatcher
from pipeline.catalog.model import Application

# (raw identifier as collectors report it, user, what leaves the gateway)
SAMPLES = [
    # Windows: per-user installs under the profile, both slash styles, a long-path prefix, an old profile root.
    (r"C:\Users\jdoe\AppData\Local\Programs\Microsoft VS Code\Code.exe", "jdoe",
     r"C:\Users\<user>\AppData\Local\Programs\Microsoft VS Code\Code.exe"),
    (r"C:\Users\Jan.de.Vries\AppData\Local\Microsoft\Teams\current\Teams.exe", "CORP\\jan.de.vries",
     r"C:\Users\<user>\AppData\Local\Microsoft\Teams\current\Teams.exe"),
    (r"\\?\D:\Users\jdoe\AppData\Roaming\Zoom\bin\Zoom.exe", "jdoe",
     r"\\?\D:\Users\<user>\AppData\Roaming\Zoom\bin\Zoom.exe"),
    ("c:/users/jdoe/appdata/local/slack/slack.exe", "jdoe", "c:/users/<user>/appdata/local/slack/slack.exe"),
    (r"C:\Documents and Settings\jdoe\Local Settings\Application Data\app.exe", "jdoe",
     r"C:\Documents and Settings\<user>\Local Settings\Application Data\app.exe"),
    (r"C:\Users\Public\Desktop\tool.exe", "jdoe", r"C:\Users\Public\Desktop\tool.exe"),  # shared, not a person's
    (r"C:\Program Files\Microsoft Office\root\Office16\EXCEL.EXE", "jdoe",
     r"C:\Program Files\Microsoft Office\root\Office16\EXCEL.EXE"),
    # A folder named after the user outside the profile (a home share), by login or by its e-mail form.
    (r"\\fileserver\homes$\jdoe\tools\putty.exe", "jdoe@corp.example", r"\\fileserver\homes$\<user>\tools\putty.exe"),
    # macOS: per-user Applications folder and an app bundle's executable.
    ("/Users/maria/Applications/Chrome Apps.localized/Gmail.app/Contents/MacOS/app_mode_loader", "maria",
     "/Users/<user>/Applications/Chrome Apps.localized/Gmail.app/Contents/MacOS/app_mode_loader"),
    ("/Applications/Slack.app/Contents/MacOS/Slack", "maria", "/Applications/Slack.app/Contents/MacOS/Slack"),
    # Linux: ~/.local, a Silverblue /var/home, a user-named folder under /opt; system paths are untouched.
    ("/home/alice/.local/share/JetBrains/Toolbox/apps/idea/bin/idea.sh", "alice",
     "/home/<user>/.local/share/JetBrains/Toolbox/apps/idea/bin/idea.sh"),
    ("/var/home/alice/.var/app/org.gimp.GIMP/gimp", "alice", "/var/home/<user>/.var/app/org.gimp.GIMP/gimp"),
    ("/opt/alice/bin/tool", "alice", "/opt/<user>/bin/tool"),
    ("/usr/lib/firefox/firefox", "alice", "/usr/lib/firefox/firefox"),
    # Not paths: an executable name, a bundle id, an executable that happens to be the user's name.
    ("Teams.exe", "jdoe", "Teams.exe"),
    ("com.tinyspeck.slackmacgap", "maria", "com.tinyspeck.slackmacgap"),
    ("/usr/local/bin/bob", "bob", "/usr/local/bin/bob"),
]  # fmt: skip


@pytest.mark.parametrize(("raw", "user", "clean"), SAMPLES, ids=[s[0][-40:] for s in SAMPLES])
def test_user_specific_folders_leave_the_identifier(raw: str, user: str, clean: str) -> None:
    assert without_user(raw, user) == clean
    login = user.rsplit("\\", 1)[-1].split("@", maxsplit=1)[0].casefold()
    folders = clean.replace("\\", "/").casefold().split("/")[:-1]
    assert login not in folders  # no folder names the person (the executable keeps its own name)


def test_the_catalog_still_recognises_a_cleaned_path() -> None:
    code = Application.model_validate(
        {"id": "vscode", "name": "VS Code", "capability": "code_editor",
         "match": {"names": ["Code.exe"], "paths": ["**/Microsoft VS Code/Code.exe"]}}
    )  # fmt: skip
    matcher = AppMatcher([code])
    clean = without_user(r"C:\Users\jdoe\AppData\Local\Programs\Microsoft VS Code\Code.exe", "jdoe")
    assert matcher.resolve(clean) is not None
    assert matcher.match(clean) == "vscode"


def test_the_policy_pseudonymises_the_device_and_cleans_the_path() -> None:
    """What the gateway and the importers apply to every event before Kafka."""
    event = UsageEvent.model_validate(
        {"event_id": "e1", "kind": "focus", "device_id": "JDOE-LAPTOP", "user": "jdoe",
         "app": r"C:\Users\jdoe\AppData\Local\Programs\Microsoft VS Code\Code.exe",
         "start": "2026-11-02T09:00:00+01:00", "duration_s": 60.0, "source": "agent"}
    )  # fmt: skip
    (clean,) = PrivacyPolicy(b"key").apply(event)
    assert clean.device_id == pseudonymise_device("JDOE-LAPTOP", b"key") != pseudonymise_device("JDOE-LAPTOP", b"k2")
    assert clean.device_id.startswith("d_") and clean.user.startswith("u_")
    assert "jdoe" not in clean.to_json_bytes().decode().casefold()  # neither login, host name nor home folder
