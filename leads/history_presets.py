"""Known history files and their mappings, by name: ``manage.py import_history --preset NAME``
uses them, docs/history-import.md documents them (a test keeps the two in step)."""

from collections.abc import Mapping

# X Education (../shared/data/x_education_leads.csv, 9,240 leads): no e-mail column, so its
# Prospect ID names the leads; Converted is the outcome (1 won, 0 lost). Every other column is a
# custom attribute, as it is: values like "Olark Chat" (Lead Source) or "unknown" (Country) are
# no choices of LeadApp's and would be refused as lead fields.
X_EDUCATION: dict[str, str] = {
    "Prospect ID": "external_id",
    "Lead Number": "custom:lead_number",
    "Lead Origin": "custom:lead_origin",
    "Lead Source": "custom:lead_source",
    "Do Not Email": "custom:do_not_email",
    "Do Not Call": "custom:do_not_call",
    "Converted": "outcome",
    "TotalVisits": "custom:totalvisits",
    "Total Time Spent on Website": "custom:total_time_spent_on_website",
    "Page Views Per Visit": "custom:page_views_per_visit",
    "Last Activity": "custom:last_activity",
    "Country": "custom:country",
    "Specialization": "custom:specialization",
    "How did you hear about X Education": "custom:how_did_you_hear_about_x_education",
    "What is your current occupation": "custom:what_is_your_current_occupation",
    "What matters most to you in choosing a course": "custom:what_matters_most_to_you_in_choosing_a_course",
    "Search": "custom:search",
    "Magazine": "custom:magazine",
    "Newspaper Article": "custom:newspaper_article",
    "X Education Forums": "custom:x_education_forums",
    "Newspaper": "custom:newspaper",
    "Digital Advertisement": "custom:digital_advertisement",
    "Through Recommendations": "custom:through_recommendations",
    "Receive More Updates About Our Courses": "custom:receive_more_updates_about_our_courses",
    "Tags": "custom:tags",
    "Lead Quality": "custom:lead_quality",
    "Update me on Supply Chain Content": "custom:update_me_on_supply_chain_content",
    "Get updates on DM Content": "custom:get_updates_on_dm_content",
    "Lead Profile": "custom:lead_profile",
    "City": "custom:city",
    "Asymmetrique Activity Index": "custom:asymmetrique_activity_index",
    "Asymmetrique Profile Index": "custom:asymmetrique_profile_index",
    "Asymmetrique Activity Score": "custom:asymmetrique_activity_score",
    "Asymmetrique Profile Score": "custom:asymmetrique_profile_score",
    "I agree to pay the amount through cheque": "custom:i_agree_to_pay_the_amount_through_cheque",
    "A free copy of Mastering The Interview": "custom:a_free_copy_of_mastering_the_interview",
    "Last Notable Activity": "custom:last_notable_activity",
}

PRESETS: dict[str, Mapping[str, str]] = {"x-education": X_EDUCATION}


class PresetError(ValueError):
    """The file is not the one the preset was written for."""


def preset_mapping(name: str, headers: list[str]) -> dict[str, str]:
    """The preset's mapping for a file's headers; a column the preset does not name is ignored."""
    preset = PRESETS[name]
    missing = [header for header in preset if header not in headers]
    if missing:
        raise PresetError(
            f"The file does not fit the preset {name!r}: it has no column {', '.join(missing[:5])}"
            f"{' …' if len(missing) > 5 else ''}."
        )
    return {header: preset.get(header, "") for header in headers}
