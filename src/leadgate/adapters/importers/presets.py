"""Column names of Salesforce and HubSpot exports, per field.

Each field lists the headers that fill it, in order of preference; the first one the file
has wins. Names are matched ignoring case, spaces and punctuation, so "No. of Employees",
"NumberOfEmployees" and "number_of_employees" are told apart only by their letters. Both
the report labels (what a report export or a list view export writes) and the API names
(what Data Loader or the API writes) are listed.

A file's own columns named like leadgate's fields (``email``, ``external_id`` ...) are
always understood, with or without a preset.
"""

from __future__ import annotations

from leadgate.services.imports import ImportKind

Preset = dict[ImportKind, dict[str, tuple[str, ...]]]

_SALESFORCE_PERSON = {
    "email": ("Email",),
    "first_name": ("First Name", "FirstName"),
    "last_name": ("Last Name", "LastName"),
}

SALESFORCE: Preset = {
    # Leads and contacts: a Lead report, a Contact report, or Data Loader's Lead/Contact.
    ImportKind.LEADS: {
        "external_id": ("Lead ID", "Contact ID", "Id"),
        **_SALESFORCE_PERSON,
        "title": ("Title",),
        "department": ("Department",),
        "source_channel": ("Lead Source", "LeadSource"),
        "source_campaign": ("Primary Campaign Source",),
        "owner": ("Lead Owner", "Contact Owner", "Owner Name", "Owner Full Name"),
        "country": ("Country", "Mailing Country", "MailingCountry"),
        "account_domain": ("Website",),
        "account_name": ("Company", "Company / Account", "Account Name"),
        "account_industry": ("Industry",),
        "account_employees": ("No. of Employees", "NumberOfEmployees", "Employees"),
        "account_annual_revenue": ("Annual Revenue", "AnnualRevenue"),
    },
    ImportKind.ACCOUNTS: {
        "domain": ("Website",),
        "name": ("Account Name", "Name"),
        "industry": ("Industry",),
        "employees": ("Employees", "NumberOfEmployees", "No. of Employees"),
        "annual_revenue": ("Annual Revenue", "AnnualRevenue"),
        "country": ("Billing Country", "BillingCountry"),
        "owner": ("Account Owner", "Owner Name"),
    },
    # Activities (a Tasks and Events report).
    ImportKind.TOUCHPOINTS: {
        "message_id": ("Activity ID", "Task ID", "Event ID"),
        "name": ("Activity Type", "Type", "Task Subtype", "TaskSubtype"),
        "occurred_at": ("Date", "Activity Date", "ActivityDate", "Created Date", "CreatedDate"),
        "email": ("Email",),
        "external_id": ("Lead ID", "Contact ID", "WhoId"),
    },
    # A Lead report with Converted or Lead Status, or an Opportunity report with Stage.
    ImportKind.OUTCOMES: {
        "external_id": ("Lead ID", "Contact ID", "Id"),
        "email": ("Email",),
        "outcome": ("Converted", "IsConverted", "Lead Status", "Status", "Stage", "StageName"),
        "occurred_at": ("Converted Date", "ConvertedDate", "Close Date", "CloseDate"),
        "reason": ("Loss Reason", "Reason"),
    },
}

HUBSPOT: Preset = {
    # Contacts (HubSpot calls people contacts; leadgate calls them leads).
    ImportKind.LEADS: {
        "external_id": ("Record ID", "Record ID - Contact", "Contact ID"),
        "email": ("Email",),
        "first_name": ("First Name",),
        "last_name": ("Last Name",),
        "title": ("Job Title",),
        "source_channel": ("Original Source", "Original Traffic Source"),
        "source_campaign": ("Original Source Drill-Down 1",),
        "owner": ("Contact owner", "HubSpot Owner"),
        "country": ("Country/Region", "Country"),
        "account_domain": ("Company Domain Name", "Website URL"),
        "account_name": ("Company Name", "Associated Company"),
        "account_industry": ("Industry",),
        "account_employees": ("Number of Employees",),
        "account_annual_revenue": ("Annual Revenue",),
    },
    ImportKind.ACCOUNTS: {
        "domain": ("Company Domain Name", "Website URL", "Domain"),
        "name": ("Company name", "Name"),
        "industry": ("Industry",),
        "employees": ("Number of Employees",),
        "annual_revenue": ("Annual Revenue",),
        "country": ("Country/Region", "Country"),
        "owner": ("Company owner", "HubSpot Owner"),
    },
    # Activities (an activity export).
    ImportKind.TOUCHPOINTS: {
        "message_id": ("Activity ID", "Engagement ID"),
        "name": ("Activity type", "Engagement Type"),
        "occurred_at": ("Activity date", "Create Date"),
        "email": ("Email",),
        "external_id": ("Record ID", "Contact ID"),
    },
    # A contact export with Lifecycle Stage, or a deal export with Deal Stage.
    ImportKind.OUTCOMES: {
        "external_id": ("Record ID", "Record ID - Contact", "Contact ID"),
        "email": ("Email",),
        "outcome": ("Lifecycle Stage", "Deal Stage"),
        "occurred_at": ("Close Date",),
        "reason": ("Closed Lost Reason",),
    },
}

PRESETS: dict[str, Preset] = {"salesforce": SALESFORCE, "hubspot": HUBSPOT}
