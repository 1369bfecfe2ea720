"""The simulated fleet's applications: raw endpoint identifiers per platform and their catalog match rules."""

from __future__ import annotations

from fnmatch import fnmatchcase
from typing import Literal, NamedTuple

Platform = Literal["windows", "mac", "linux"]


class AppSpec(NamedTuple):
    """One application as endpoints report it, and how the catalog recognises it."""

    id: str
    name: str
    vendor: str
    capability: str
    exe: str  # Windows executable name, as agents that report names see it
    windows_path: str  # full path, as agents that report paths see it
    bundle_id: str  # macOS bundle id
    linux: str  # Linux binary path or name
    path_globs: tuple[str, ...] = ()
    regexes: tuple[str, ...] = ()
    sanctioned: bool = True
    catalogued: bool = True
    min_minutes: int | None = None
    replaces: str | None = None
    interchangeable_with: tuple[str, ...] = ()  # apps that do the same job: consolidation candidates
    annual_cost_per_user: float | None = None  # what a user of it costs (in EUR), e.g. a shadow-IT tool's list price

    def identifier(self, platform: Platform, full_paths: bool) -> str:
        """The raw identifier a device of this platform reports for the app."""
        if platform == "mac":
            return self.bundle_id
        if platform == "linux":
            return self.linux
        return self.windows_path if full_paths else self.exe

    def identifiers(self) -> tuple[str, ...]:
        """Every raw identifier the simulator can emit for this app."""
        return (self.exe, self.windows_path, self.bundle_id, self.linux)

    def match_rules(self) -> dict[str, list[str]]:
        """The catalog `match:` block: names, bundle ids, path globs and regexes."""
        names = [self.exe]
        paths = list(self.path_globs)
        if "/" not in self.linux:
            names.append(self.linux)
        elif not any(fnmatchcase(self.linux, glob) for glob in paths):
            paths.append(self.linux)
        return {
            "names": names,
            "bundle_ids": [self.bundle_id],
            "paths": paths,
            "regexes": list(self.regexes),
        }


_OFFICE = r"C:\Program Files\Microsoft Office\root\Office16"

APPS: tuple[AppSpec, ...] = (
    AppSpec(
        "salesforce", "Salesforce", "Salesforce", "crm",
        "Salesforce.exe", r"C:\Program Files\Salesforce\Salesforce.exe", "com.salesforce.desktop",
        "/opt/Salesforce/salesforce",
        path_globs=(r"C:\Program Files\Salesforce\*.exe", "/opt/Salesforce/*"),
    ),
    AppSpec(
        "sap_s4", "SAP S/4HANA (SAP GUI)", "SAP", "erp",
        "saplogon.exe", r"C:\Program Files (x86)\SAP\FrontEnd\SAPgui\saplogon.exe", "com.sap.platin",
        "/opt/SAPClients/SAPGUI/bin/guistart",
        path_globs=(r"C:\Program Files*\SAP\**\saplogon.exe", "/opt/SAPClients/SAPGUI/bin/*"),
    ),
    AppSpec(
        "teams", "Microsoft Teams", "Microsoft", "unified_communications",
        "ms-teams.exe",
        r"C:\Program Files\WindowsApps\MSTeams_24215.1007.3082.1590_x64__8wekyb3d8bbwe\ms-teams.exe",
        "com.microsoft.teams2", "teams-for-linux",
        path_globs=(r"C:\Program Files\WindowsApps\MSTeams_*\ms-teams.exe",),
        regexes=(r"^com\.microsoft\.teams2?$",),
        replaces="skype_business",
    ),
    AppSpec(
        "skype_business", "Skype for Business", "Microsoft", "unified_communications",
        "lync.exe", _OFFICE + r"\lync.exe", "com.microsoft.SkypeForBusiness", "skypeforlinux",
        path_globs=(r"C:\Program Files*\Microsoft Office\root\Office1?\lync.exe",),
    ),
    AppSpec(
        "notion", "Notion", "Notion Labs", "knowledge_management",
        "Notion.exe", r"C:\Program Files\Notion\Notion.exe", "notion.id", "notion-app",
        path_globs=(r"C:\Program Files\Notion\Notion.exe",),
        sanctioned=False,
        annual_cost_per_user=120,
    ),
    AppSpec(
        "tableau", "Tableau Desktop", "Salesforce", "analytics",
        "tableau.exe", r"C:\Program Files\Tableau\Tableau 2024.2\bin\tableau.exe",
        "com.tableausoftware.tableaudesktop", "/opt/tableau/bin/tableau",
        path_globs=(r"C:\Program Files\Tableau\Tableau *\bin\tableau.exe", "/opt/tableau/bin/*"),
        regexes=(r"^com\.tableausoftware\.tableaudesktop(\.\d+)?$",),
        min_minutes=10,
    ),
    AppSpec(
        "zoom", "Zoom Workplace", "Zoom", "video_meetings",
        "Zoom.exe", r"C:\Program Files\Zoom\bin\Zoom.exe", "us.zoom.xos", "/opt/zoom/zoom",
        path_globs=(r"C:\Program Files\Zoom\bin\Zoom.exe", "/opt/zoom/*"),
        interchangeable_with=("teams",),
    ),
    AppSpec(
        "chrome", "Google Chrome", "Google", "web_browser",
        "chrome.exe", r"C:\Program Files\Google\Chrome\Application\chrome.exe", "com.google.Chrome",
        "/usr/bin/google-chrome",
        path_globs=(r"C:\Program Files*\Google\Chrome\Application\chrome.exe", "/usr/bin/google-chrome*"),
    ),
    AppSpec(
        "firefox", "Mozilla Firefox", "Mozilla", "web_browser",
        "firefox.exe", r"C:\Program Files\Mozilla Firefox\firefox.exe", "org.mozilla.firefox",
        "/usr/bin/firefox",
        path_globs=(
            r"C:\Program Files*\Mozilla Firefox\firefox.exe", "/usr/bin/firefox", "/usr/lib/firefox/*",
        ),
    ),
    AppSpec(
        "outlook", "Microsoft Outlook", "Microsoft", "email",
        "OUTLOOK.EXE", _OFFICE + r"\OUTLOOK.EXE", "com.microsoft.Outlook", "/opt/outlook/outlook",
        path_globs=(r"C:\Program Files*\Microsoft Office\root\Office1?\OUTLOOK.EXE",),
        min_minutes=2,
    ),
    AppSpec(
        "thunderbird", "Mozilla Thunderbird", "Mozilla", "email",
        "thunderbird.exe", r"C:\Program Files\Mozilla Thunderbird\thunderbird.exe", "org.mozilla.thunderbird",
        "/usr/bin/thunderbird",
        path_globs=(r"C:\Program Files*\Mozilla Thunderbird\thunderbird.exe", "/usr/bin/thunderbird"),
        min_minutes=2,
    ),
    AppSpec(
        "excel", "Microsoft Excel", "Microsoft", "office_suite",
        "EXCEL.EXE", _OFFICE + r"\EXCEL.EXE", "com.microsoft.Excel", "/opt/office/excel",
        path_globs=(r"C:\Program Files*\Microsoft Office\root\Office1?\EXCEL.EXE",),
    ),
    AppSpec(
        "word", "Microsoft Word", "Microsoft", "office_suite",
        "WINWORD.EXE", _OFFICE + r"\WINWORD.EXE", "com.microsoft.Word", "/opt/office/word",
        path_globs=(r"C:\Program Files*\Microsoft Office\root\Office1?\WINWORD.EXE",),
    ),
    AppSpec(
        "libreoffice", "LibreOffice", "The Document Foundation", "office_suite",
        "soffice.exe", r"C:\Program Files\LibreOffice\program\soffice.exe", "org.libreoffice.script",
        "/usr/lib/libreoffice/program/soffice.bin",
        path_globs=(r"C:\Program Files\LibreOffice\program\*", "/usr/lib/libreoffice/program/*"),
    ),
    AppSpec(
        "vscode", "Visual Studio Code", "Microsoft", "code_editor",
        "Code.exe", r"C:\Program Files\Microsoft VS Code\Code.exe", "com.microsoft.VSCode",
        "/usr/share/code/code",
        path_globs=(r"C:\Program Files\Microsoft VS Code\Code.exe", "/usr/share/code/code"),
    ),
    AppSpec(
        "intellij", "IntelliJ IDEA", "JetBrains", "code_editor",
        "idea64.exe", r"C:\Program Files\JetBrains\IntelliJ IDEA 2024.2\bin\idea64.exe",
        "com.jetbrains.intellij",
        "/opt/idea/bin/idea",
        path_globs=(r"C:\Program Files\JetBrains\IntelliJ IDEA *\bin\idea64.exe", "/opt/idea/bin/*"),
    ),
    AppSpec(
        "terminal", "Terminal", "Operating system", "terminal",
        "WindowsTerminal.exe",
        r"C:\Program Files\WindowsApps\Microsoft.WindowsTerminal_1.21.2361.0_x64__8wekyb3d8bbwe"
        r"\WindowsTerminal.exe",
        "com.apple.Terminal", "/usr/bin/gnome-terminal",
        path_globs=(r"C:\Program Files\WindowsApps\Microsoft.WindowsTerminal_*\WindowsTerminal.exe",),
        regexes=(r"^/usr/bin/(gnome-terminal|konsole|xterm)$",),
    ),
    # Not in the catalog at all, and used by fewer than k people: must NOT be reported as shadow IT.
    AppSpec(
        "obsidian", "Obsidian", "Dynalist", "knowledge_management",
        "Obsidian.exe", r"C:\Program Files\Obsidian\Obsidian.exe", "md.obsidian", "/usr/bin/obsidian",
        catalogued=False,
    ),
)  # fmt: skip


def identifier_index() -> dict[str, str]:
    """Raw identifier -> app id, the simulator's ground truth for counting use in tests."""
    return {raw: app.id for app in APPS for raw in app.identifiers()}
