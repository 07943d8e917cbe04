"""Deterministic demo data for LeadApp: leads, their event histories and funnel outcomes.

``DemoGenerator`` turns a seed into plain rows (tuples in the column order of
``LEAD_COLUMNS``, ``ACTIVITY_COLUMNS`` and ``STAGE_CHANGE_COLUMNS``, JSON columns as JSON
text, ready for COPY); the ``seed_demo`` command writes them. Nothing in this module touches the database.

The model behind the outcomes, so that a scoring model later finds real signal:

* *fit* comes from seniority, company size, industry and source;
* a hidden *interest* (partly driven by fit) sets how many events a lead produces and of
  which kind (pricing pages, webinars and demo requests for the interested ones);
* *propensity* = fit + what the events show + noise, and decides each step of the funnel
  new → mql → sal → sql → opportunity → customer, with disqualified / recycled / lost exits.
  Every step takes time, so young leads have not got far yet, as in a real pipeline.

The same seed, lead count, start and ``now`` give the same rows; only the ids differ.
"""

from __future__ import annotations

import json
import math
import random
import unicodedata
from bisect import bisect
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from itertools import accumulate

from .models import ActivityKind, ActivitySource, CompanySize, CreatedVia, Industry, Source, Stage

LEAD_COLUMNS = (
    "id",
    "email",
    "first_name",
    "last_name",
    "phone",
    "job_title",
    "company_name",
    "company_size",
    "industry",
    "country",
    "website",
    "source",
    "created_via",
    "utm_source",
    "utm_medium",
    "utm_campaign",
    "utm_term",
    "utm_content",
    "referrer",
    "stage",
    "stage_changed_at",
    "owner_id",
    "marketing_consent",
    "consent_at",
    "consent_method",
    "custom",
    "created_at",
    "updated_at",
)
ACTIVITY_COLUMNS = (
    "lead_id",
    "kind",
    "occurred_at",
    "properties",
    "source",
    "external_id",
    "created_by_id",
    "received_at",
)
STAGE_CHANGE_COLUMNS = (
    "lead_id",
    "from_stage",
    "to_stage",
    "changed_at",
    "changed_by_id",
    "reason",
    "forced",
)

DAY = 86_400
HOUR = 3_600
HISTORY_DAYS = 365
DEMO = ActivitySource.DEMO.value


def _cumulative(weights: Sequence[float]) -> list[float]:
    return list(accumulate(weights))


class _Weighted:
    """A weighted choice that costs one ``random()`` and one bisect per draw."""

    __slots__ = ("values", "cum", "total")

    def __init__(self, pairs: Sequence[tuple[object, float]]):
        self.values = [value for value, _ in pairs]
        self.cum = _cumulative([weight for _, weight in pairs])
        self.total = self.cum[-1]

    def pick(self, rng: random.Random):
        return self.values[bisect(self.cum, rng.random() * self.total)]


def _words(text: str, sep: str | None = None) -> list[str]:
    return text.split(sep)


def _ascii(text: str) -> str:
    """'José Müller-Lüdenscheidt' -> 'josemullerludenscheidt' (for e-mails and domains)."""
    folded = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return "".join(c for c in folded.lower() if c.isalnum())


# --- People --------------------------------------------------------------------------------

_NAMES: dict[str, tuple[list[str], list[str]]] = {
    "en": (
        _words(
            "James Mary John Patricia Robert Jennifer Michael Linda David Elizabeth William Barbara "
            "Richard Susan Joseph Jessica Thomas Sarah Chris Karen Daniel Lisa Matthew Nancy Anthony "
            "Sandra Mark Ashley Steven Emily Andrew Michelle Joshua Amanda Kevin Melissa Brian Rebecca "
            "Ryan Laura Jacob Emma Nicholas Olivia Eric Hannah Jonathan Megan Justin Rachel Ben Kate "
            "Oliver Sophie Harry Grace Jack Chloe Liam Zoe Noah Ava"
        ),
        _words(
            "Smith Johnson Williams Brown Jones Miller Davis Wilson Anderson Taylor Thomas Moore Martin "
            "Jackson Thompson White Harris Clark Lewis Robinson Walker Young Allen King Wright Scott "
            "Green Baker Adams Nelson Hill Campbell Mitchell Roberts Carter Phillips Evans Turner Parker "
            "Collins Edwards Stewart Morris Murphy Cook Rogers Morgan Cooper Peterson Reed Bailey Bell "
            "Kelly Howard Ward Cox Richardson Wood Watson Brooks Bennett Gray Hughes Price Sanders "
            "O'Brien Fletcher Walsh Byrne"
        ),
    ),
    "de": (
        _words(
            "Lukas Anna Leon Lea Finn Hannah Jonas Lena Paul Laura Felix Julia Maximilian Sarah Tobias "
            "Katharina Stefan Sabine Jürgen Petra Matthias Claudia Andreas Nicole Florian Jana Sebastian "
            "Miriam Jörg Birgit"
        ),
        _words(
            "Müller Schmidt Schneider Fischer Weber Meyer Wagner Becker Schulz Hoffmann Schäfer Koch "
            "Bauer Richter Klein Wolf Schröder Neumann Schwarz Zimmermann Braun Krüger Hofmann Hartmann "
            "Lange Schmitt Werner Krause Meier Lehmann"
        ),
    ),
    "fr": (
        _words(
            "Camille Louis Léa Hugo Manon Jules Chloé Lucas Inès Gabriel Sarah Arthur Emma Nathan "
            "Juliette Théo Pauline Antoine Céline Nicolas Julie Mathieu Aurélie Julien Élodie François "
            "Margaux Baptiste"
        ),
        _words(
            "Martin Bernard Dubois Thomas Robert Richard Petit Durand Leroy Moreau Simon Laurent Lefèvre "
            "Michel Garcia David Bertrand Roux Vincent Fournier Morel Girard André Mercier Dupont Lambert "
            "Bonnet François"
        ),
    ),
    "es": (
        _words(
            "Lucía Hugo Martina Mateo Sofía Daniel María Pablo Paula Alejandro Carmen Javier Elena David "
            "Laura Sergio Marta Carlos Ana José Isabel Diego Valentina Andrés"
        ),
        _words(
            "García González Rodríguez Fernández López Martínez Sánchez Pérez Gómez Martín Jiménez Ruiz "
            "Hernández Díaz Moreno Álvarez Muñoz Romero Alonso Gutiérrez Navarro Torres"
        ),
    ),
    "pt": (
        _words(
            "Miguel Helena Arthur Alice Gabriel Laura Heitor Manuela Rafael Valentina Pedro Sophia Lucas "
            "Isabella Mateus Beatriz João Mariana Bruno Camila Thiago Larissa"
        ),
        _words(
            "Silva Santos Oliveira Souza Rodrigues Ferreira Alves Pereira Lima Gomes Costa Ribeiro "
            "Martins Carvalho Almeida Lopes Soares Fernandes Vieira Barbosa Rocha Dias"
        ),
    ),
    "in": (
        _words(
            "Aarav Ananya Vivaan Diya Aditya Saanvi Arjun Priya Rohan Aditi Rahul Neha Vikram Pooja "
            "Sanjay Kavya Amit Divya Karan Shreya Rajesh Lakshmi Suresh Meera"
        ),
        _words(
            "Sharma Verma Gupta Patel Singh Kumar Reddy Iyer Nair Rao Mehta Joshi Shah Desai Chopra "
            "Malhotra Banerjee Mukherjee Das Pillai Agarwal Kapoor Menon Bhat"
        ),
    ),
    "nl": (
        _words(
            "Daan Emma Sem Julia Lucas Mila Levi Tess Finn Sophie Milan Anna Thijs Fleur Bram Sanne Ruben "
            "Lotte Jeroen Femke"
        ),
        # Dutch surnames keep their particles ("de Jong"): this list is comma-separated.
        _words(
            "de Jong,Jansen,de Vries,van den Berg,van Dijk,Bakker,Janssen,Visser,Smit,Meijer,"
            "de Boer,Mulder,de Groot,Bos,Vos,Peters,Hendriks,van Leeuwen,Dekker,Brouwer",
            sep=",",
        ),
    ),
    "nordic": (
        _words(
            "Erik Maja Lars Ingrid Anders Astrid Johan Sofia Mikael Freja Nils Elin Oskar Sara Henrik Ida "
            "Magnus Emilia Jussi Aino"
        ),
        _words(
            "Andersson Johansson Karlsson Nilsson Eriksson Larsson Olsen Hansen Jensen Nielsen Pedersen "
            "Berg Lindberg Virtanen Korhonen Lindqvist Dahl Holm"
        ),
    ),
    "it": (
        _words(
            "Leonardo Sofia Francesco Giulia Alessandro Aurora Lorenzo Alice Matteo Ginevra Marco Chiara "
            "Luca Francesca Giuseppe Elena Andrea Valentina"
        ),
        _words(
            "Rossi Russo Ferrari Esposito Bianchi Romano Colombo Ricci Marino Greco Bruno Gallo Conti "
            "Costa Giordano Mancini Rizzo Lombardi Moretti"
        ),
    ),
    "pl": (
        _words(
            "Jakub Zuzanna Antoni Julia Jan Maja Szymon Zofia Piotr Anna Tomasz Katarzyna Marcin "
            "Agnieszka Paweł Magdalena"
        ),
        _words(
            "Nowak Kowalski Wiśniewski Wójcik Kowalczyk Kamiński Lewandowski Zieliński Szymański Woźniak "
            "Dąbrowski Kozłowski Jankowski Mazur"
        ),
    ),
    "jp": (
        _words("Haruto Yui Sota Hina Yuto Mei Riku Sakura Takumi Aoi Kenji Yuki Hiroshi Naoko"),
        _words(
            "Sato Suzuki Takahashi Tanaka Watanabe Ito Yamamoto Nakamura Kobayashi Kato Yoshida Yamada "
            "Sasaki Matsumoto"
        ),
    ),
}
_ASCII = {name: _ascii(name) for first, last in _NAMES.values() for name in (*first, *last)}

# country: (weight, names, calling code, TLD, company suffixes, free-mail domains)
_COUNTRIES: dict[str, tuple[float, str, str, str, tuple[str, ...], tuple[str, ...]]] = {
    "US": (30, "en", "1", "com", ("Inc.", "LLC", "Corp."), ("gmail.com", "yahoo.com", "outlook.com")),
    "GB": (9, "en", "44", "co.uk", ("Ltd", "plc"), ("gmail.com", "outlook.com", "btinternet.com")),
    "DE": (8, "de", "49", "de", ("GmbH", "AG", "GmbH & Co. KG"), ("gmx.de", "web.de", "gmail.com")),
    "IN": (7, "in", "91", "in", ("Pvt Ltd", "Ltd"), ("gmail.com", "yahoo.co.in", "rediffmail.com")),
    "FR": (5, "fr", "33", "fr", ("SAS", "SA", "SARL"), ("gmail.com", "orange.fr", "free.fr")),
    "CA": (5, "en", "1", "ca", ("Inc.", "Ltd."), ("gmail.com", "outlook.com", "yahoo.ca")),
    "AU": (4, "en", "61", "com.au", ("Pty Ltd",), ("gmail.com", "bigpond.com", "outlook.com")),
    "BR": (4, "pt", "55", "com.br", ("Ltda.", "S.A."), ("gmail.com", "hotmail.com", "uol.com.br")),
    "NL": (3, "nl", "31", "nl", ("B.V.", "N.V."), ("gmail.com", "ziggo.nl", "outlook.com")),
    "ES": (3, "es", "34", "es", ("S.L.", "S.A."), ("gmail.com", "hotmail.es", "yahoo.es")),
    "IT": (2.5, "it", "39", "it", ("S.r.l.", "S.p.A."), ("gmail.com", "libero.it", "alice.it")),
    "SE": (2, "nordic", "46", "se", ("AB",), ("gmail.com", "telia.com", "outlook.com")),
    "CH": (1.5, "de", "41", "ch", ("AG", "GmbH", "SA"), ("gmail.com", "bluewin.ch", "gmx.ch")),
    "MX": (1.5, "es", "52", "com.mx", ("S.A. de C.V.",), ("gmail.com", "hotmail.com", "yahoo.com.mx")),
    "PL": (1.5, "pl", "48", "pl", ("Sp. z o.o.", "S.A."), ("gmail.com", "wp.pl", "onet.pl")),
    "JP": (1.5, "jp", "81", "co.jp", ("K.K.", "Co., Ltd."), ("gmail.com", "yahoo.co.jp", "docomo.ne.jp")),
    "SG": (1.2, "en", "65", "com.sg", ("Pte. Ltd.",), ("gmail.com", "singnet.com.sg", "outlook.com")),
    "IE": (1.2, "en", "353", "ie", ("Ltd", "DAC"), ("gmail.com", "eircom.net", "outlook.com")),
    "BE": (1, "nl", "32", "be", ("NV", "BV", "SA"), ("gmail.com", "skynet.be", "telenet.be")),
    "DK": (1, "nordic", "45", "dk", ("A/S", "ApS"), ("gmail.com", "hotmail.dk", "outlook.com")),
    "NO": (1, "nordic", "47", "no", ("AS", "ASA"), ("gmail.com", "online.no", "outlook.com")),
    "AT": (1, "de", "43", "at", ("GmbH", "AG"), ("gmx.at", "gmail.com", "aon.at")),
    "FI": (0.8, "nordic", "358", "fi", ("Oy", "Oyj"), ("gmail.com", "luukku.com", "outlook.com")),
    "ZA": (0.8, "en", "27", "co.za", ("(Pty) Ltd",), ("gmail.com", "mweb.co.za", "outlook.com")),
    "NZ": (0.7, "en", "64", "co.nz", ("Ltd",), ("gmail.com", "xtra.co.nz", "outlook.com")),
    "PT": (0.7, "pt", "351", "pt", ("Lda.", "S.A."), ("gmail.com", "sapo.pt", "hotmail.com")),
}
_COUNTRY_PICK = _Weighted([(code, spec[0]) for code, spec in _COUNTRIES.items()])

_SENIORITY_FIT = {"c": 1.0, "vp": 0.8, "director": 0.6, "manager": 0.3, "ic": 0.0, "student": -1.6}
_SENIORITY = _Weighted([("c", 6), ("vp", 7), ("director", 12), ("manager", 25), ("ic", 42), ("student", 8)])
_FUNCTIONS = _Weighted(
    [
        ("Marketing", 26),
        ("Sales", 20),
        ("Engineering", 12),
        ("IT", 9),
        ("Operations", 9),
        ("Finance", 6),
        ("Product", 7),
        ("Customer Success", 5),
        ("Data", 4),
        ("HR", 2),
    ]
)
_C_TITLES = _Weighted(
    [
        ("CEO", 20),
        ("Founder & CEO", 8),
        ("Co-founder", 6),
        ("CMO", 14),
        ("Chief Revenue Officer", 8),
        ("CTO", 10),
        ("COO", 8),
        ("CFO", 6),
        ("CIO", 5),
        ("Chief Digital Officer", 3),
    ]
)
_IC_TITLES = {
    "Marketing": [
        "Marketing Specialist",
        "Content Marketer",
        "Demand Generation Specialist",
        "SEO Specialist",
    ],
    "Sales": ["Account Executive", "Sales Development Representative", "Business Development Rep"],
    "Engineering": ["Software Engineer", "Senior Software Engineer", "DevOps Engineer", "QA Engineer"],
    "IT": ["Systems Administrator", "IT Specialist", "Solutions Architect"],
    "Operations": ["Operations Analyst", "RevOps Specialist", "Operations Coordinator"],
    "Finance": ["Financial Analyst", "Accountant", "Controller"],
    "Product": ["Product Designer", "Product Analyst", "UX Researcher"],
    "Customer Success": ["Customer Success Manager", "Support Specialist", "Onboarding Specialist"],
    "Data": ["Data Analyst", "Data Scientist", "Analytics Engineer"],
    "HR": ["HR Generalist", "Recruiter", "People Partner"],
}
_STUDENT_TITLES = _Weighted(
    [
        ("Student", 40),
        ("Marketing Intern", 20),
        ("Intern", 15),
        ("MBA Candidate", 10),
        ("Graduate Student", 15),
    ]
)

_SIZE_FIT = {
    "": -0.1,
    CompanySize.S1: -0.7,
    CompanySize.S11: -0.2,
    CompanySize.S51: 0.2,
    CompanySize.S201: 0.45,
    CompanySize.S501: 0.55,
    CompanySize.S1001: 0.5,
    CompanySize.S5001: 0.3,
}
_SIZES = _Weighted(
    [
        (CompanySize.S1.value, 14),
        (CompanySize.S11.value, 24),
        (CompanySize.S51.value, 22),
        (CompanySize.S201.value, 14),
        (CompanySize.S501.value, 9),
        (CompanySize.S1001.value, 10),
        (CompanySize.S5001.value, 7),
    ]
)
# industry: (weight, fit, words a company name of the industry ends in)
_INDUSTRIES: dict[str, tuple[float, float, tuple[str, ...]]] = {
    Industry.SOFTWARE: (22, 0.55, ("Labs", "Software", "Systems", "Cloud", "Analytics", "Technologies")),
    Industry.FINANCE: (10, 0.4, ("Capital", "Financial", "Bank", "Insurance", "Holdings", "Payments")),
    Industry.HEALTHCARE: (8, 0.2, ("Health", "Medical", "Clinics", "Pharma", "Biotech", "Care")),
    Industry.EDUCATION: (6, -0.4, ("Academy", "Learning", "Institute", "School", "College")),
    Industry.MANUFACTURING: (9, 0.1, ("Manufacturing", "Industries", "Works", "Components", "Machinery")),
    Industry.RETAIL: (8, 0.05, ("Retail", "Stores", "Market", "Brands", "Outfitters", "Commerce")),
    Industry.MEDIA: (7, 0.1, ("Media", "Studios", "Agency", "Creative", "Publishing")),
    Industry.CONSULTING: (9, 0.25, ("Consulting", "Advisors", "Group", "Partners", "Solutions")),
    Industry.TELECOM: (3, 0.15, ("Telecom", "Networks", "Communications", "Mobile")),
    Industry.GOVERNMENT: (4, -0.5, ("Foundation", "Council", "Trust", "Authority")),
    Industry.LOGISTICS: (5, 0.0, ("Logistics", "Freight", "Transport", "Shipping")),
    Industry.ENERGY: (3, 0.0, ("Energy", "Power", "Solar", "Utilities")),
    Industry.REAL_ESTATE: (3, -0.2, ("Properties", "Realty", "Estates", "Homes")),
    Industry.OTHER: (3, -0.3, ("Group", "Enterprises", "Company")),
}
_INDUSTRY_PICK = _Weighted([(str(key), spec[0]) for key, spec in _INDUSTRIES.items()])
_INDUSTRY_FIT = {str(key): spec[1] for key, spec in _INDUSTRIES.items()} | {"": -0.1}

_SYLLABLES = _words(
    "vel tra no qua zen lum ar ix cor da pi on ka ri so ter bri mo flu neo ve lo ta sy na gen ra tek "
    "vo lin ca mi ro xa dor fin el"
)
_WORDS = _words(
    "Blue North Silver Bright Summit Pine Iron Clear Red Atlas Nova Apex Cedar Harbor Granite Maple "
    "Falcon Orbit Quantum Vertex Beacon Meridian Horizon Lighthouse Copper River Oak Stone Polar "
    "Crescent Evergreen Pioneer Keystone Bluebird Sterling Union Liberty Prairie Coastal"
)

# --- Marketing -----------------------------------------------------------------------------

# source: (weight, fit)
_SOURCES: dict[str, tuple[float, float]] = {
    Source.ORGANIC_SEARCH: (24, 0.1),
    Source.PAID_SEARCH: (16, 0.1),
    Source.ORGANIC_SOCIAL: (8, -0.2),
    Source.PAID_SOCIAL: (11, -0.15),
    Source.EMAIL: (7, 0.0),
    Source.REFERRAL: (8, 0.45),
    Source.EVENT: (8, 0.25),
    Source.PARTNER: (5, 0.35),
    Source.DIRECT: (10, 0.05),
    Source.OTHER: (3, -0.3),
}
_SOURCE_PICK = _Weighted([(str(key), spec[0]) for key, spec in _SOURCES.items()])
_SOURCE_FIT = {str(key): spec[1] for key, spec in _SOURCES.items()}

_REFERRERS = {
    Source.ORGANIC_SEARCH: ("https://www.google.com/", "https://www.google.com/", "https://www.bing.com/"),
    Source.PAID_SEARCH: ("https://www.google.com/",) * 4 + ("https://www.bing.com/",),
    Source.ORGANIC_SOCIAL: ("https://www.linkedin.com/", "https://x.com/", "https://www.reddit.com/"),
    Source.PAID_SOCIAL: ("https://www.linkedin.com/", "https://www.facebook.com/"),
    Source.REFERRAL: (
        "https://www.g2.com/categories/lead-management",
        "https://www.capterra.com/lead-management-software/",
        "https://blog.growthstack.io/best-lead-tools",
    ),
    Source.PARTNER: ("https://partners.example-agency.com/", "https://www.crm-integrators.net/"),
}
_SEARCH_TERMS = (
    "lead management software",
    "lead scoring tool",
    "marketing automation",
    "b2b lead tracking",
    "crm for small business",
    "lead nurturing",
    "mql to sql handoff",
)
_CONSENT_METHODS = {
    Source.EVENT: "Webinar registration: 'Keep me informed about LeadApp events and news'",
    Source.EMAIL: "Newsletter signup (double opt-in)",
}
_CONSENT_DEFAULT = "Signup form: 'Send me product news and offers' checkbox"

# page: (url, title, weight for cold, warm, hot leads)
_PAGES = (
    ("/", "LeadApp - Lead management for B2B teams", 14, 12, 8),
    ("/features", "Features", 10, 12, 12),
    ("/features/scoring", "Lead scoring", 4, 7, 9),
    ("/features/nurturing", "Nurture campaigns", 3, 6, 7),
    ("/integrations", "Integrations", 3, 5, 7),
    ("/pricing", "Pricing", 4, 10, 18),
    ("/customers", "Customer stories", 3, 5, 7),
    ("/security", "Security & compliance", 1, 2, 4),
    ("/docs/api", "API documentation", 2, 3, 5),
    ("/blog/what-is-an-mql", "Blog: What is an MQL?", 14, 9, 5),
    ("/blog/lead-scoring-101", "Blog: Lead scoring 101", 12, 9, 5),
    ("/blog/b2b-funnel-benchmarks", "Blog: B2B funnel benchmarks 2026", 10, 7, 4),
    ("/about", "About us", 4, 3, 2),
    ("/careers", "Careers", 6, 2, 1),
    ("/contact", "Contact", 2, 3, 5),
)
_PRICING = "/pricing"
_CAREERS = "/careers"
_ASSETS = (
    "whitepaper-2026",
    "ebook-lead-scoring",
    "roi-calculator",
    "case-study-logistics",
    "benchmark-report-2026",
    "template-mql-definition",
)
_WEBINARS = (
    "Pipeline velocity 101",
    "From MQL to revenue: a handoff that works",
    "Lead scoring without data scientists",
    "Nurture campaigns that convert",
)
_FORMS = ("contact-us", "newsletter", "ebook-download", "pricing-question")
_PLANS = ("team", "business")

# kind: weight for cold, warm, hot leads (e-mail kinds only for leads with consent)
_KIND_WEIGHTS = (
    (ActivityKind.PAGE_VIEW, 50, 45, 40),
    (ActivityKind.EMAIL_OPEN, 24, 22, 18),
    (ActivityKind.DOWNLOAD, 6, 9, 10),
    (ActivityKind.WEBINAR_REGISTERED, 2, 4, 6),
    (ActivityKind.FORM_SUBMITTED, 2, 3, 4),
    (ActivityKind.DEMO_REQUESTED, 0.15, 0.9, 3.5),
    (ActivityKind.TRIAL_STARTED, 0.1, 0.6, 2.5),
    (ActivityKind.EMAIL_BOUNCE, 0.4, 0.15, 0.05),
    (ActivityKind.UNSUBSCRIBED, 1.2, 0.5, 0.2),
)
_EMAIL_KINDS = frozenset(
    {ActivityKind.EMAIL_OPEN, ActivityKind.EMAIL_BOUNCE, ActivityKind.UNSUBSCRIBED, ActivityKind.EMAIL_CLICK}
)
_HIGH_INTENT = frozenset(
    {
        ActivityKind.DOWNLOAD,
        ActivityKind.WEBINAR_ATTENDED,
        ActivityKind.FORM_SUBMITTED,
        ActivityKind.DEMO_REQUESTED,
        ActivityKind.TRIAL_STARTED,
    }
)
_EMAIL_SUBJECTS = (
    "Your monthly LeadApp digest",
    "5 ways to speed up your funnel",
    "New: scoring that explains itself",
    "You're invited: live product tour",
)

_LOST_REASONS = ("Chose a competitor", "No budget", "No decision", "Price too high", "Timing: next year")
_DISQUALIFY_EARLY = ("Invalid contact data", "Competitor", "Not a business lead", "Job seeker")
_DISQUALIFY_LATE = ("No budget", "Not the decision maker", "Bad fit: too small", "No need")
_RECYCLE_REASONS = ("No response to sales follow-up", "Not ready to buy", "Went quiet")


# Plain strings, not the enum members: psycopg dumps an Enum by its name, not its value.
_NEW, _MQL, _SAL, _SQL = Stage.NEW.value, Stage.MQL.value, Stage.SAL.value, Stage.SQL.value
_OPPORTUNITY, _CUSTOMER, _LOST = Stage.OPPORTUNITY.value, Stage.CUSTOMER.value, Stage.LOST.value
_DISQUALIFIED, _RECYCLED = Stage.DISQUALIFIED.value, Stage.RECYCLED.value
_SALES_STAGES = frozenset({_SAL, _SQL, _OPPORTUNITY, _CUSTOMER})


def _sigmoid(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-x))


@dataclass(frozen=True)
class _Company:
    name: str
    domain: str
    country: str
    industry: str
    size: str


@dataclass
class Chunk:
    """Rows for one batch of leads, in the column order of the ``*_COLUMNS`` tuples."""

    leads: list[tuple] = field(default_factory=list)
    activities: list[tuple] = field(default_factory=list)
    stage_changes: list[tuple] = field(default_factory=list)


class DemoGenerator:
    """Makes demo leads one chunk at a time; call ``chunk`` with the ids to give them.

    ``start`` is how many demo leads earlier runs made (``--append``): it numbers the
    e-mails past theirs and varies the random stream, so appended leads are new people.
    """

    def __init__(
        self,
        *,
        seed: int,
        now: datetime,
        total: int,
        start: int = 0,
        events_per_lead: float = 5.0,
        owner_ids: Sequence[int] = (),
    ):
        self.rng = random.Random(seed if start == 0 else f"{seed}:{start}")
        self.now = int(now.timestamp())
        self.number = start
        self.owner_ids = list(owner_ids)
        # Measured: the time cut-off (no events after ``now``) drops about a fifth of the
        # planned events, and the first event of every lead is not planned here.
        self.planned_events = max(0.0, (events_per_lead - 1.0) * 0.93)
        self.companies = [self._company() for _ in range(min(max(total // 6, 20), 60_000))]
        # Big, well-known companies bring many leads; the long tail brings one or two.
        self.company_cum = _cumulative([1.0 / (rank + 5) ** 0.9 for rank in range(len(self.companies))])
        self.kind_picks = [_Weighted([(k.value, w[tier]) for k, *w in _KIND_WEIGHTS]) for tier in range(3)]
        self.kind_picks_no_email = [
            _Weighted([(k.value, w[tier]) for k, *w in _KIND_WEIGHTS if k not in _EMAIL_KINDS])
            for tier in range(3)
        ]
        self.page_picks = [
            _Weighted([((url, title), w[tier]) for url, title, *w in _PAGES]) for tier in range(3)
        ]
        self._json: dict[tuple, str] = {}

    # -- public ----------------------------------------------------------------------------

    def chunk(self, lead_ids: Sequence[int]) -> Chunk:
        out = Chunk()
        for lead_id in lead_ids:
            self._lead(lead_id, out)
        return out

    # -- companies and people ----------------------------------------------------------------

    def _company(self) -> _Company:
        rng = self.rng
        country = _COUNTRY_PICK.pick(rng)
        _, names, _, tld, suffixes, _ = _COUNTRIES[country]
        industry = _INDUSTRY_PICK.pick(rng)
        words = _INDUSTRIES[industry][2]
        style = rng.random()
        if style < 0.4:
            base = "".join(rng.choice(_SYLLABLES) for _ in range(rng.choice((2, 2, 3)))).capitalize()
            name = f"{base} {rng.choice(words)}" if rng.random() < 0.5 else base
        elif style < 0.8:
            base = (
                f"{rng.choice(_WORDS)}{rng.choice(_WORDS).lower()}"
                if rng.random() < 0.3
                else rng.choice(_WORDS)
            )
            name = f"{base} {rng.choice(words)}"
        else:
            surnames = _NAMES[names][1]
            one, two = rng.choice(surnames), rng.choice(surnames)
            base = f"{one} & {two}" if rng.random() < 0.4 and one != two else one
            name = f"{base} {rng.choice(words)}"
        domain_tld = "com" if rng.random() < 0.45 else tld
        domain = f"{_ascii(name)}.{domain_tld}"
        if rng.random() < 0.5:
            name = f"{name} {rng.choice(suffixes)}"
        size = _SIZES.pick(rng)
        return _Company(name, domain, country, industry, size)

    def _job_title(self, seniority: str) -> str:
        rng = self.rng
        if seniority == "c":
            return _C_TITLES.pick(rng)
        if seniority == "student":
            return _STUDENT_TITLES.pick(rng)
        function = _FUNCTIONS.pick(rng)
        if seniority == "vp":
            return f"VP of {function}" if rng.random() < 0.7 else f"Vice President, {function}"
        if seniority == "director":
            return rng.choice(
                (f"Director of {function}", f"Head of {function}", f"Senior Director, {function}")
            )
        if seniority == "manager":
            return f"Senior {function} Manager" if rng.random() < 0.3 else f"{function} Manager"
        return rng.choice(_IC_TITLES[function])

    # -- one lead ------------------------------------------------------------------------------

    def _lead(self, lead_id: int, out: Chunk) -> None:
        rng = self.rng
        number = self.number
        self.number += 1

        company = self.companies[bisect(self.company_cum, rng.random() * self.company_cum[-1])]
        country = company.country if rng.random() < 0.9 else _COUNTRY_PICK.pick(rng)
        names = _NAMES[_COUNTRIES[country][1]]
        first, last = rng.choice(names[0]), rng.choice(names[1])
        seniority = _SENIORITY.pick(rng)
        small = company.size in (CompanySize.S1, CompanySize.S11)
        if small and seniority in ("ic", "manager") and rng.random() < 0.25:
            seniority = "c"  # at small companies the founder fills in the form more often
        job_title = self._job_title(seniority) if rng.random() < 0.93 else ""
        source = _SOURCE_PICK.pick(rng)

        personal = seniority == "student" or rng.random() < 0.08
        first_ascii, last_ascii = _name_slug(first), _name_slug(last)
        if personal:
            domain = rng.choice(_COUNTRIES[country][5])
            company_name = company.name if rng.random() < 0.5 else ""
        else:
            domain = company.domain
            company_name = company.name
        local = f"{first_ascii}.{last_ascii}" if rng.random() < 0.8 else f"{first_ascii[:1]}{last_ascii}"
        email = f"{local}.{number}@{domain}"
        size = company.size if company_name and rng.random() < 0.85 else ""
        industry = company.industry if company_name and rng.random() < 0.9 else ""
        if seniority == "student" and rng.random() < 0.6:
            industry = Industry.EDUCATION.value
        website = f"https://www.{company.domain}" if company_name and rng.random() < 0.8 else ""
        phone = self._phone(country) if rng.random() < 0.55 else ""
        if rng.random() < 0.03:
            country = ""

        created = self._created_at()
        utm, referrer = self._utm(source, created)
        consent = rng.random() < (0.85 if source in (Source.EVENT, Source.EMAIL) else 0.68)

        fit = (
            _SENIORITY_FIT[seniority]
            + _SIZE_FIT[size]
            + _INDUSTRY_FIT[industry]
            + _SOURCE_FIT[source]
            + (-0.4 if personal else 0.0)
        )
        interest = rng.gauss(0.35 * fit, 1.0)

        lead_acts: list[tuple] = []
        engagement, first_intent, unsubscribed, bounced = self._events(
            lead_id, created, source, interest, consent, seniority == "student", lead_acts
        )
        if unsubscribed:
            consent = False
        propensity = fit + engagement + 0.3 * interest + rng.gauss(0.0, 0.6)
        owner_draw, owner_pick = rng.random(), rng.random()
        owner = None
        if self.owner_ids and owner_draw < 0.9:
            owner = self.owner_ids[int(owner_pick * len(self.owner_ids))]
        changes = self._funnel(
            created, propensity, first_intent, seniority == "student", bounced, owner_draw < 0.9
        )

        stage, stage_at = changes[-1][1], changes[-1][2]
        reached_sal = any(to in _SALES_STAGES for _, to, _, _, _ in changes)
        lead_owner = owner if reached_sal else None
        to_dt = _datetime
        for from_stage, to_stage, at, by_sales, reason in changes:
            by = lead_owner if by_sales else None
            when = to_dt(at)
            out.stage_changes.append((lead_id, from_stage, to_stage, when, by, reason, False))
            if from_stage:
                props = self._props(
                    ("stage", from_stage, to_stage, reason),
                    lambda f=from_stage, t=to_stage, r=reason: {"from": f, "to": t, "reason": r},
                )
                lead_acts.append((lead_id, ActivityKind.STAGE_CHANGED.value, when, props, DEMO, "", by, when))
        out.activities.extend(lead_acts)

        created_dt = to_dt(created)
        stage_dt = to_dt(stage_at)
        out.leads.append(
            (
                lead_id,
                email.lower(),
                first,
                last,
                phone,
                job_title,
                company_name,
                size,
                industry,
                country,
                website,
                source,
                CreatedVia.DEMO.value,
                *utm,
                referrer,
                stage,
                stage_dt,
                lead_owner,
                consent,
                created_dt if consent else None,
                (_CONSENT_METHODS.get(source, _CONSENT_DEFAULT) if consent else ""),
                "{}",
                created_dt,
                stage_dt,  # the last save()
            )
        )

    def _phone(self, country: str) -> str:
        rng = self.rng
        code = _COUNTRIES[country][2]
        return f"+{code} {rng.randint(20, 999)} {rng.randint(100, 999)} {rng.randint(1000, 9999)}"

    def _created_at(self) -> int:
        rng = self.rng
        while True:
            # Lead volume grows over the year: half uniform, half leaning towards today.
            u = rng.random()
            age_days = HISTORY_DAYS * (u if rng.random() < 0.5 else 1.0 - math.sqrt(u))
            day_start = self.now - (int(age_days) + 1) * DAY
            # 1970-01-01 was a Thursday: (days + 3) % 7 >= 5 is a Saturday or Sunday.
            if (day_start // DAY + 3) % 7 < 5 or rng.random() < 0.35:
                break
        second_of_day = int(min(max(rng.gauss(14.5 * HOUR, 3.5 * HOUR), 0), DAY - 1))
        return day_start + second_of_day

    def _utm(self, source: str, created: int) -> tuple[tuple[str, str, str, str, str], str]:
        rng = self.rng
        referrer = rng.choice(_REFERRERS[source]) if source in _REFERRERS else ""
        stamp = datetime.fromtimestamp(created, UTC)
        quarter = f"{stamp.year}-q{(stamp.month - 1) // 3 + 1}"
        if source == Source.PAID_SEARCH:
            engine = "bing" if "bing" in referrer else "google"
            campaign = rng.choice(
                ("brand-search", "lead-scoring-software", "competitor-terms", "crm-alternatives")
            )
            return (
                (
                    engine,
                    "cpc",
                    f"{campaign}-{quarter}",
                    rng.choice(_SEARCH_TERMS),
                    rng.choice(("rsa-1", "rsa-2")),
                ),
                referrer,
            )
        if source == Source.PAID_SOCIAL:
            network = "linkedin" if referrer.startswith("https://www.linkedin") else "facebook"
            campaign = rng.choice(("abm-enterprise", "ebook-lead-scoring", "webinar-promo", "retargeting"))
            content = rng.choice(("carousel-1", "video-30s", "single-image-b"))
            return (network, "paid_social", f"{campaign}-{quarter}", "", content), referrer
        if source == Source.EMAIL:
            return ("newsletter", "email", f"newsletter-{stamp:%Y-%m}", "", ""), referrer
        return ("", "", "", "", ""), referrer

    # -- events ----------------------------------------------------------------------------------

    def _props(self, key: tuple, build) -> str:
        """JSON text of event properties; most repeat, so each distinct one is dumped once."""
        text = self._json.get(key)
        if text is None:
            text = self._json[key] = json.dumps(build(), separators=(", ", ": "))
        return text

    def _events(
        self,
        lead_id: int,
        created: int,
        source: str,
        interest: float,
        consent: bool,
        student: bool,
        out: list[tuple],
    ) -> tuple[float, int | None, bool, bool]:
        """Append the lead's events; return (engagement score, time of the first high-intent
        event, whether it unsubscribed, whether its e-mail bounced)."""
        rng = self.rng
        now = self.now
        to_dt = _datetime
        tier = 0 if interest < -0.3 else (1 if interest < 0.8 else 2)

        # The event that made the lead: a form for most channels, the webinar for events.
        if source == Source.EVENT:
            webinar = rng.choice(_WEBINARS)
            first = (ActivityKind.WEBINAR_REGISTERED.value, ("webinar", webinar))
        else:
            form = "demo-request" if tier == 2 and rng.random() < 0.15 else rng.choice(_FORMS)
            first = (ActivityKind.FORM_SUBMITTED.value, ("form", form))
        at = to_dt(created)
        out.append(
            (lead_id, first[0], at, self._props(first[1], lambda: dict([first[1]])), DEMO, "", None, at)
        )

        planned = int(rng.expovariate(1.0 / self.planned_events)) if self.planned_events else 0
        planned = int(planned * math.exp(0.55 * interest - 0.15))
        mean_gap = DAY * 14.0 / (1.0 + max(interest, -0.5) + 0.5)
        picks = (self.kind_picks if consent else self.kind_picks_no_email)[tier]
        pages = self.page_picks[tier]

        score = 0.0
        first_intent = created if first[1][1] == "demo-request" else None
        unsubscribed = bounced = False
        pricing = downloads = clicks = webinars = 0
        demo = trial = False
        t = created
        made = 0
        while made < planned:
            t += int(rng.expovariate(1.0 / mean_gap)) + 60
            if t >= now:
                break
            kind = picks.pick(rng)
            if unsubscribed and kind in _EMAIL_KINDS:
                continue
            made += 1
            if kind == ActivityKind.PAGE_VIEW:
                # A visit is a few pages, minutes apart.
                for _ in range(1 + int(rng.expovariate(0.9))):
                    url, title = (_CAREERS, "Careers") if student and rng.random() < 0.2 else pages.pick(rng)
                    if t >= now:
                        break
                    props = self._props(("page", url), lambda u=url, ti=title: {"url": u, "title": ti})
                    at = to_dt(t)
                    out.append((lead_id, kind, at, props, DEMO, "", None, at))
                    if url == _PRICING:
                        pricing += 1
                    elif url == _CAREERS:
                        score -= 0.5
                    t += rng.randint(15, 400)
                continue
            at = to_dt(t)
            if kind == ActivityKind.EMAIL_OPEN:
                month = f"{at:%Y-%m}"
                subject = rng.choice(_EMAIL_SUBJECTS)
                props = self._props(
                    ("open", month, subject),
                    lambda m=month, s=subject: {"campaign": f"newsletter-{m}", "subject": s},
                )
                out.append((lead_id, kind, at, props, DEMO, "", None, at))
                if rng.random() < (0.12, 0.25, 0.4)[tier]:
                    t += rng.randint(5, 3_600)
                    click = to_dt(t)
                    url = pages.pick(rng)[0]
                    props = self._props(
                        ("click", month, url),
                        lambda m=month, u=url: {"campaign": f"newsletter-{m}", "url": u},
                    )
                    out.append((lead_id, ActivityKind.EMAIL_CLICK.value, click, props, DEMO, "", None, click))
                    clicks += 1
                continue
            if kind == ActivityKind.WEBINAR_REGISTERED:
                webinar = rng.choice(_WEBINARS)
                props = self._props(("webinar", webinar), lambda w=webinar: {"webinar": w})
                out.append((lead_id, kind, at, props, DEMO, "", None, at))
                if rng.random() < (0.35, 0.5, 0.7)[tier]:
                    t += rng.randint(1, 10) * DAY
                    if t < now:
                        attended = to_dt(t)
                        minutes = rng.randint(10, 60)
                        props = self._props(
                            ("attended", webinar, minutes),
                            lambda w=webinar, m=minutes: {"webinar": w, "minutes": m},
                        )
                        out.append(
                            (
                                lead_id,
                                ActivityKind.WEBINAR_ATTENDED.value,
                                attended,
                                props,
                                DEMO,
                                "",
                                None,
                                attended,
                            )
                        )
                        webinars += 1
                        first_intent = first_intent or t
                continue
            if kind == ActivityKind.DOWNLOAD:
                asset = rng.choice(_ASSETS)
                props = self._props(("download", asset), lambda a=asset: {"asset": a})
                downloads += 1
            elif kind == ActivityKind.FORM_SUBMITTED:
                form = rng.choice(_FORMS)
                props = self._props(("form", form), lambda f=form: {"form": f})
                score += 0.2
            elif kind == ActivityKind.DEMO_REQUESTED:
                props = self._props(("demo",), lambda: {"form": "demo-request", "url": "/demo"})
                demo = True
            elif kind == ActivityKind.TRIAL_STARTED:
                plan = rng.choice(_PLANS)
                props = self._props(("trial", plan), lambda p=plan: {"plan": p})
                trial = True
            elif kind == ActivityKind.UNSUBSCRIBED:
                props = self._props(("unsubscribed",), lambda: {"list": "newsletter"})
                unsubscribed = True
            else:  # e-mail bounce
                props = self._props(("bounce",), lambda: {"reason": "mailbox unavailable"})
                bounced = True
            out.append((lead_id, kind, at, props, DEMO, "", None, at))
            if kind in _HIGH_INTENT and first_intent is None:
                first_intent = t

        score += (
            1.5 * demo
            + 1.0 * trial
            + 0.6 * min(webinars, 2)
            + 0.35 * min(pricing, 3)
            + 0.25 * min(downloads, 3)
            + 0.12 * min(clicks, 5)
            + 0.15 * math.sqrt(len(out))
            - 0.8 * unsubscribed
            - 1.2 * bounced
        )
        return score, first_intent, unsubscribed, bounced

    # -- the funnel ------------------------------------------------------------------------------

    def _funnel(
        self, created: int, p: float, first_intent: int | None, student: bool, bounced: bool, has_owner: bool
    ) -> list[tuple[str, str, int, bool, str]]:
        """The lead's path through the stages: (from, to, when, made by sales, reason)."""
        rng = self.rng
        now = self.now
        path: list[tuple[str, str, int, bool, str]] = [("", _NEW, created, False, "")]
        stage, t = _NEW, created

        def move(to: str, delay: float, by_sales: bool = False, reason: str = "") -> bool:
            nonlocal stage, t
            when = t + int(delay)
            if when >= now:
                return False  # would happen in the future: the lead is still where it is
            path.append((stage, to, when, by_sales, reason))
            stage, t = to, when
            return True

        def days(mean: float, minimum: float = 0.1) -> float:
            return (minimum + rng.expovariate(1.0 / mean)) * DAY

        # Junk first: students, bounced addresses and a share of low-fit leads.
        junk = _sigmoid(-3.0 - 1.2 * p) + (0.45 if student else 0.0) + (0.6 if bounced else 0.0)
        if rng.random() < junk:
            reason = (
                "Student"
                if student
                else ("Invalid contact data" if bounced else rng.choice(_DISQUALIFY_EARLY))
            )
            move(_DISQUALIFIED, days(4), reason=reason)
            return path

        for recycle_round in range(2):
            if rng.random() >= _sigmoid(-1.7 + 1.2 * p):
                return path
            mql_delay = (first_intent - t) if first_intent and first_intent > t else days(8)
            if not move(_MQL, mql_delay):
                return path
            if rng.random() >= _sigmoid(-0.7 + 1.1 * p + (0.8 if first_intent else 0.0)):
                recycled = rng.random() < 0.55 and move(
                    _RECYCLED, days(30, 20), reason=rng.choice(_RECYCLE_REASONS)
                )
                if recycled and recycle_round == 0 and rng.random() < 0.3:
                    # Nurtured back: it comes round again as an MQL later on.
                    t += int(days(45, 20))
                    first_intent = None
                    continue
                return path
            if not move(_SAL, days(3), by_sales=has_owner):
                return path
            if rng.random() >= _sigmoid(-0.2 + 1.0 * p):
                exit_roll = rng.random()
                if exit_roll < 0.5:
                    move(_DISQUALIFIED, days(6), True, rng.choice(_DISQUALIFY_LATE))
                elif exit_roll < 0.85:
                    move(_RECYCLED, days(20, 10), True, rng.choice(_RECYCLE_REASONS))
                return path
            if not move(_SQL, days(8, 1), by_sales=has_owner):
                return path
            if rng.random() >= _sigmoid(-0.3 + 0.9 * p):
                if rng.random() < 0.5:
                    move(_LOST, days(20, 5), True, rng.choice(_LOST_REASONS))
                elif rng.random() < 0.6:
                    move(_RECYCLED, days(25, 10), True, rng.choice(_RECYCLE_REASONS))
                return path
            if not move(_OPPORTUNITY, days(10, 2), by_sales=has_owner):
                return path
            if rng.random() < _sigmoid(-1.2 + 1.0 * p):
                move(_CUSTOMER, days(30, 10), True, "Closed won")
            else:
                move(_LOST, days(35, 10), True, rng.choice(_LOST_REASONS))
            return path
        return path


def _datetime(timestamp: int) -> datetime:
    return datetime.fromtimestamp(timestamp, UTC)


def _name_slug(name: str) -> str:
    return _ASCII.get(name) or _ascii(name)
