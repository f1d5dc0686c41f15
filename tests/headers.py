"""The security headers every response must carry (S5), as one check shared by the browser and client tests."""

SAME_EVERYWHERE = {"x-content-type-options": "nosniff", "referrer-policy": "same-origin", "x-frame-options": "DENY"}


def header_problems(where, headers):
    """What is missing from a response's security headers (`headers` with lower-case names)."""
    problems = [f"{where}: {name} is {headers.get(name)!r}" for name, value in SAME_EVERYWHERE.items()
                if headers.get(name) != value]
    directives = {}
    for part in headers.get("content-security-policy", "").split(";"):
        name, _, value = part.strip().partition(" ")
        if name:
            directives[name] = value
    scripts = directives.get("script-src", directives.get("default-src", ""))
    if not scripts or "'unsafe-inline'" in scripts or "'unsafe-eval'" in scripts or "*" in scripts.split():
        problems.append(f"{where}: scripts are not limited to the site: {directives}")
    if directives.get("frame-ancestors") != "'none'":
        problems.append(f"{where}: frames are not denied: {directives}")
    return problems
