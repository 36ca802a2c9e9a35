"""The words and numbers a synthetic crisis is made of: names, outlets, sentences."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import TypeVar

from service.engine.specs import (
    CitationSpec,
    FactSpec,
)
from service.vocabulary import (
    CasualtyCategory,
    Channel,
    DeploymentStatus,
    Hedge,
    Language,
    Verification,
    VictimGroup,
)

MIN_FACTS = 50
"""Below this the crisis cannot use every actor it creates, which the loader refuses."""

T = TypeVar("T")

START = dt.date(2024, 3, 1)
DAYS = 120

FIRST = (
    "Aidar Aigerim Arman Asel Bakhyt Daniyar Dana Yerlan Gulnara Kairat Marat Nurlan Saule "
    "Timur Zhanna Askar Dinara Yerbol Madina Serik Ainur Berik Aliya Rustam Samal Olzhas "
    "Aizhan Erzhan Kamila Murat"
).split()
ROOTS = (
    "Abdi Bek Daulet Ermek Ibra Kassym Mukan Nurpeis Omar Rakhim Sadyk Tulegen Ute Zhaksy "
    "Akhmet Baimukhan Iskak Kuanysh Mamyr Sultan Tokta Zhumag Kenzhe Amanzhol Yessen Sarsen "
    "Baitur Kozha Syzdyk Temir Zhetpis Orazal Tursyn Karim Nazar Sagin Dzhumab Alim Ospan Seit"
).split()
ENDINGS = ("ov", "ev", "bekov", "bayev", "uly")
PLACE_HEADS = (
    "Ak Kara Kyzyl Zhana Taldy Ust Shym Ekiba Pavlo Semey Aral Balkh Kos Sary Tas Zhezk Uzyn "
    "Kok Shu Mangy"
).split()
PLACE_TAILS = (
    "tau su kol ozen korgan kent bulak tobe agash sai kum tas dar shy arka zhol yrga lik"
).split()
STATES = (
    "Russia China Belarus Armenia Tajikistan Kyrgyzstan Uzbekistan Turkey France Germany "
    "Poland Georgia Mongolia Iran India Japan Italy Spain Canada Brazil"
).split()
ORG_KINDS = (
    "Police Department",
    "City Hospital",
    "Akimat",
    "Prosecutor's Office",
    "Emergency Service",
    "Health Department",
)
GROUP_KINDS = ("protest committee", "workers' union", "residents' council", "youth movement")
OUTLETS = (
    ("Orda.kz", Language.EN),
    ("Steppe Wire", Language.EN),
    ("Eurasia Desk", Language.EN),
    ("Central Asia Monitor", Language.EN),
    ("Le Courrier d'Asie", Language.FR),
    ("Nouvelles des Steppes", Language.FR),
)
MONTHS_EN = "January February March April May June July August September October November December"
MONTHS_FR = "janvier février mars avril mai juin juillet août septembre octobre novembre décembre"
MONTHS = {Language.EN: MONTHS_EN.split(), Language.FR: MONTHS_FR.split()}

HEDGE_WORDS = {
    Language.EN: {
        Hedge.EXACT: "{n}",
        Hedge.AT_LEAST: "at least {n}",
        Hedge.MORE_THAN: "more than {n}",
        Hedge.ABOUT: "about {n}",
        Hedge.UP_TO: "up to {n}",
        Hedge.RANGE: "between {n} and {m}",
    },
    Language.FR: {
        Hedge.EXACT: "{n}",
        Hedge.AT_LEAST: "au moins {n}",
        Hedge.MORE_THAN: "plus de {n}",
        Hedge.ABOUT: "environ {n}",
        Hedge.UP_TO: "jusqu'à {n}",
        Hedge.RANGE: "entre {n} et {m}",
    },
}
VICTIMS = {
    Language.EN: {
        VictimGroup.POLICE: "police officers",
        VictimGroup.SOLDIERS: "soldiers",
        VictimGroup.SECURITY_FORCES: "members of the security forces",
        VictimGroup.PROTESTERS: "protesters",
        VictimGroup.ARMED_CRIMINALS: "armed criminals",
        VictimGroup.JIHADISTS: "militants",
        VictimGroup.CIVILIANS: "civilians",
        VictimGroup.UNSPECIFIED: "people",
    },
    Language.FR: {
        VictimGroup.POLICE: "policiers",
        VictimGroup.SOLDIERS: "militaires",
        VictimGroup.SECURITY_FORCES: "membres des forces de sécurité",
        VictimGroup.PROTESTERS: "manifestants",
        VictimGroup.ARMED_CRIMINALS: "criminels armés",
        VictimGroup.JIHADISTS: "djihadistes",
        VictimGroup.CIVILIANS: "civils",
        VictimGroup.UNSPECIFIED: "personnes",
    },
}
HARM = {
    Language.EN: {
        CasualtyCategory.KILLED: "killed",
        CasualtyCategory.INJURED: "injured",
        CasualtyCategory.SERIOUSLY_INJURED: "seriously injured",
    },
    Language.FR: {
        CasualtyCategory.KILLED: "tués",
        CasualtyCategory.INJURED: "blessés",
        CasualtyCategory.SERIOUSLY_INJURED: "grièvement blessés",
    },
}
# (English, French) pairs; {place} is filled in per event.
SAYINGS = (
    ("order will be restored in {place} within days", "l'ordre sera rétabli à {place} sous peu"),
    ("the curfew in {place} stays in force", "le couvre-feu reste en vigueur à {place}"),
    (
        "no shots were fired at peaceful protesters in {place}",
        "aucun tir n'a visé les manifestants pacifiques à {place}",
    ),
    ("the government of {place} has resigned", "le gouvernement de {place} a démissionné"),
    ("fuel prices in {place} will be capped", "le prix du carburant sera plafonné à {place}"),
    ("foreign troops will leave {place} soon", "les troupes étrangères quitteront bientôt {place}"),
    ("the internet will be restored in {place}", "internet sera rétabli à {place}"),
    (
        "those responsible for the violence in {place} will be punished",
        "les responsables des violences à {place} seront punis",
    ),
    (
        "talks with the protesters of {place} have begun",
        "des discussions avec les manifestants de {place} ont commencé",
    ),
    (
        "the airport of {place} is back under control",
        "l'aéroport de {place} est de nouveau sous contrôle",
    ),
)
CHARGES = (
    ("high treason", "haute trahison"),
    ("organising mass riots", "organisation d'émeutes"),
    ("attempting to seize power", "tentative de prise du pouvoir"),
    ("abuse of office", "abus de pouvoir"),
)
FILLER = {
    Language.EN: (
        "The situation remained tense on the streets.",
        "Mobile internet access was cut for much of the day.",
        "Shops and banks stayed closed.",
        "Residents described hearing gunfire overnight.",
        "The claims could not be independently verified.",
        "Officials gave no further details.",
    ),
    Language.FR: (
        "La situation restait tendue dans les rues.",
        "L'accès à internet mobile a été coupé une grande partie de la journée.",
        "Les commerces et les banques sont restés fermés.",
        "Des habitants ont dit avoir entendu des tirs pendant la nuit.",
        "Ces affirmations n'ont pas pu être vérifiées de manière indépendante.",
        "Les autorités n'ont pas donné plus de détails.",
    ),
}
KIND_WEIGHTS = (("statement", 25), ("casualty", 35), ("deployment", 15), ("arrest", 25))
REPORTS = (1, 1, 1, 1, 2, 2, 2, 3, 3, 4)  # how many sources report one event
VERIFICATIONS = (
    (Verification.REPORTED,) * 6
    + (Verification.CONFIRMED,) * 2
    + (Verification.UNCONFIRMED, Verification.UNVERIFIABLE, Verification.DISPUTED)
)
HEDGES = (Hedge.EXACT,) * 5 + (
    Hedge.AT_LEAST,
    Hedge.MORE_THAN,
    Hedge.ABOUT,
    Hedge.UP_TO,
    Hedge.RANGE,
)
DEPLOYMENT_VERBS = {
    DeploymentStatus.REQUESTED: ("was asked to send", "a été sollicité pour envoyer"),
    DeploymentStatus.ANNOUNCED: ("announced it would send", "a annoncé l'envoi de"),
    DeploymentStatus.APPROVED: ("approved sending", "a approuvé l'envoi de"),
    DeploymentStatus.LAUNCHED: ("began sending", "a commencé à envoyer"),
    DeploymentStatus.ARRIVED: ("has deployed", "a déployé"),
    DeploymentStatus.WITHDRAWN: ("withdrew", "a retiré"),
}


SYNTH_FILE = "synth"
"""Where problems in generated facts are reported from: there is no file."""

GROUPS = tuple(VictimGroup)
CHANNELS = tuple(Channel)
STATUSES = tuple(DeploymentStatus)
KINDS = tuple(kind for kind, weight in KIND_WEIGHTS for _ in range(weight))
LANGUAGES = (Language.EN, Language.FR)

Report = Callable[[Language, list[CitationSpec]], tuple[FactSpec, str]]
"""Builds one source's fact of an event, in the source's language, and the sentence it cites."""
