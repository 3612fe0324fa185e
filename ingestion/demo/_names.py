"""Word lists the demo generator draws people, companies and text from (fixed, so output is reproducible)."""

FIRST_NAMES = (
    "James Mary Robert Patricia John Jennifer Michael Linda David Elizabeth William Barbara Richard Susan "
    "Joseph Jessica Thomas Sarah Charles Karen Daniel Lisa Matthew Nancy Anthony Betty Mark Sandra Donald "
    "Ashley Steven Kimberly Paul Emily Andrew Donna Joshua Michelle Kenneth Carol Kevin Amanda Brian Melissa "
    "George Deborah Timothy Stephanie Ronald Rebecca Jason Sharon Edward Laura Jeffrey Cynthia Ryan Amy "
    "Jacob Kathleen Gary Angela Nicholas Shirley Eric Anna Jonathan Brenda Stephen Pamela Larry Emma Justin "
    "Nicole Scott Helen Brandon Samantha Benjamin Katherine Samuel Christine Gregory Debra Alexander Rachel "
    "Frank Carolyn Patrick Janet Raymond Maria Jack Olivia Dennis Heather Jerry Diane Tyler Julie Aaron "
    "Sophie Lukas Hannah Felix Chloe Hugo Ines Mateo Yuki Haruto Sakura Ren Aiko Liam Noah Amelia Priya "
    "Arjun Mei Chen Wei Fatima Omar Lucas Clara Jonas Lea Elias Mila"
).split()

LAST_NAMES = (
    "Smith Johnson Williams Brown Jones Garcia Miller Davis Rodriguez Martinez Hernandez Lopez Gonzalez "
    "Wilson Anderson Thomas Taylor Moore Jackson Martin Lee Perez Thompson White Harris Sanchez Clark "
    "Ramirez Lewis Robinson Walker Young Allen King Wright Scott Torres Nguyen Hill Flores Green Adams "
    "Nelson Baker Hall Rivera Campbell Mitchell Carter Roberts Gomez Phillips Evans Turner Diaz Parker "
    "Cruz Edwards Collins Reyes Stewart Morris Morales Murphy Cook Rogers Gutierrez Ortiz Morgan Cooper "
    "Peterson Bailey Reed Kelly Howard Ramos Kim Cox Ward Richardson Watson Brooks Chavez Wood James "
    "Bennett Gray Mendoza Ruiz Hughes Price Alvarez Castillo Sanders Patel Myers Long Ross Foster "
    "Mueller Schmidt Schneider Fischer Weber Dubois Laurent Moreau Tanaka Suzuki Sato Watanabe Jansen "
    "Visser Bakker Murphy OBrien Kowalski Rossi Russo Silva Santos Singh Kumar Chen Wang Li Zhang"
).split()

COMPANY_A = (
    "Blue Red Green Silver Golden Bright North South East West Summit Harbor River Lake Stone Iron Cedar "
    "Maple Oak Pine Falcon Eagle Hawk Fox Wolf Bear Lion Orbit Nova Stellar Quantum Vector Apex Zenith "
    "Pioneer Frontier Horizon Atlas Titan Vertex Prime Crystal Copper Cobalt Amber Coral Jade Onyx Ruby "
    "Sapphire Granite Willow Aspen Birch Harvest Meadow Prairie Canyon"
).split()

COMPANY_B = (
    "Peak Bridge Point Wave Field Gate Path Forge Works Labs Sphere Line Stream Shift Grid Link Core Loop "
    "Mark Port Rock Ridge Wood Brook Crest Rise Spring Vale View Yard"
).split()

COMPANY_C = (
    "Analytics Systems Logistics Health Foods Energy Robotics Media Finance Software Retail Manufacturing "
    "Pharma Capital Networks Motors Foods Textiles Insurance Consulting"
).split()

INDUSTRIES = [
    "Technology",
    "Financial Services",
    "Healthcare",
    "Retail",
    "Manufacturing",
    "Media",
    "Education",
    "Energy",
    "Transportation",
    "Professional Services",
    "Telecommunications",
    "Hospitality",
]

CONTACT_TITLES = [
    "CEO",
    "CFO",
    "CTO",
    "VP Engineering",
    "VP Sales",
    "VP Operations",
    "Director of IT",
    "Head of Data",
    "Procurement Manager",
    "Operations Manager",
    "IT Manager",
    "Finance Director",
    "Product Manager",
    "Data Analyst",
    "Software Engineer",
    "Head of Revenue Operations",
]

LEAD_SOURCES_INBOUND = ["Web", "Webinar", "Trade Show", "Inbound Call"]
LEAD_SOURCES = LEAD_SOURCES_INBOUND + ["Outbound Prospecting", "Partner Referral"]

EMAIL_SUBJECTS = [
    "Following up on our conversation",
    "Quick question about your data stack",
    "Proposal attached",
    "Re: pricing",
    "Next steps",
    "Intro call?",
    "Security questionnaire",
    "Contract redline",
    "Re: implementation timeline",
    "Checking in",
    "Case study you asked for",
    "Renewal options",
]
CALL_SUBJECTS = [
    "Discovery call",
    "Follow-up call",
    "Pricing discussion",
    "Cold call",
    "Check-in call",
    "Negotiation call",
    "Reference call",
]
MEETING_SUBJECTS = [
    "Product demo",
    "Technical deep dive",
    "Executive briefing",
    "Quarterly business review",
    "Kickoff meeting",
    "Proposal review",
    "Onboarding session",
]

PERSONAL_DOMAINS = ["gmail.com", "outlook.com", "yahoo.com", "icloud.com", "proton.me"]
ROLE_MAILBOXES = ["info", "procurement", "accounts.payable", "it", "legal", "purchasing", "office"]
